"""The series file formats, one module each, and what they share (package-private:
import readers and writers from `dpsynth.series.io`)."""
