"""The public schema files shipped with dpsynth (``*.yaml``; no code), and ``dpsynth-schema.json``,
the JSON Schema every schema file is checked against (`dpsynth.schema_spec.check_spec`).

A package of its own so that setuptools lists it and the wheel carries its files as
package data; the loaders in `dpsynth.data` read them with `importlib.resources`.
"""
