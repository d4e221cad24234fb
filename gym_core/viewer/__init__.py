"""`gym view`: a rollout viewer in the browser, over results files still being written.

The index (`index.py`) keeps each rollout's offset and a small summary; filters, sorting and
paging (`query.py`), groups and charts (`charts.py`) run on the server over those summaries;
a rollout is read back from disk when opened, and its tokens laid out turn by turn
(`tokens.py`). The page (`static/`) is plain JavaScript drawing SVG: no build step, nothing
fetched from the network.
"""

from gym_core.viewer.app import create_viewer_app
from gym_core.viewer.index import ResultsIndex

__all__ = ["ResultsIndex", "create_viewer_app"]
