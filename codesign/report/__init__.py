"""Reports: pure functions from data to plotly figures, and self-contained HTML assembly."""
