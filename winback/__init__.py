"""winback: bring online-store customers back.

Connectors read Shopify and Ecwid into one common model (:mod:`winback.model`), sync keeps it in a
local database, rules decide whom to remind, and the ``winback`` CLI runs it all from cron.
"""

__version__ = "0.1.0"
