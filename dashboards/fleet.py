"""Fleet overview: every device live, KPIs, event feed (``panel serve dashboards/fleet.py``)."""

import panel as pn

from modax.viz import FleetOverview, shared_feed

pn.extension("tabulator")

pn.template.FastListTemplate(
    title="modax · fleet",
    main=[FleetOverview(shared_feed().fleet)],
    accent="#1565c0",
).servable()
