"""How the digital-isolation module's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.manifest import ObjectKind
from app.skt.isolation.models import IsoDefinition, IsoDong, IsoEducationSession

OBJECTS = (
    ObjectKind("iso_dong", "Administrative dong", IsoDong, "name", fields={"name": "Name", "code": "Area code"}),
    ObjectKind("iso_cell", "Isolation statistics"),
    ObjectKind("iso_definition", "Isolation definition", IsoDefinition, "effective_from",
               fields={"effective_from": "Effective from"}),
    ObjectKind("iso_education_session", "Digital-education session", IsoEducationSession, "title",
               fields={"held_date": "Date held", "title": "Session title", "attendees_65plus": "Attendees aged 65+",
                       "attendees_total": "Attendees in all", "note": "Note"}, hidden=frozenset({"dong_id"})),
)
