"""``python -m dpsynth``: the same command line as the ``dpsynth`` script (`dpsynth.cli`)."""

from dpsynth.cli import app

if __name__ == "__main__":
    app(prog_name="dpsynth")
