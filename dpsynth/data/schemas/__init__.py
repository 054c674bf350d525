"""The public schema files shipped with dpsynth (``*.yaml``; no code).

A package of its own so that setuptools lists it and the wheel carries its files as
package data; the loaders in `dpsynth.data` read them with `importlib.resources`.
"""
