"""codesign: hardware/accelerator co-design of large-language-model systems.

Importing this package is deliberately light: Pyomo, plotly, dask and torch are imported
only by the modules that use them.
"""

__version__ = "0.1.0"
