"""The dashboard: a static, self-contained site made from the run history (`grt dashboard`).

`model` (what it shows: the runtime x machine grid, strips of last results, cost per runtime and
per night; pure), `style` (the style sheet, each status's colour, symbol and word), `pages` and
`runtime_page` (the HTML, every history text escaped; pure), `site` (writing the files).
"""

from .site import write_site

__all__ = ["write_site"]
