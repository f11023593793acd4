"""The readside's dashboard: the programme in server-rendered pages, in Kazakh, Russian and
English, for staff, analysts and the commission (`access`), over the read models (`queries`).
Templates and the stylesheet ship in the package; nothing is loaded from elsewhere."""
