"""How the city-data module's objects read in histories (declared in the manifest)."""

from __future__ import annotations

from app.core.manifest import ObjectKind
from app.lguplus.citydata.models import CitydataFestival, CitydataImportJob, CitydataSurvey, CitydataZone

OBJECTS = (
    ObjectKind("citydata_zone", "City-data zone", CitydataZone, "code"),
    ObjectKind("citydata_import_job", "City-data import", CitydataImportJob, "filename",
               actions={"replace": "Import replaced", "delete": "Import removed"}),
    ObjectKind("citydata_festival", "Festival", CitydataFestival, "name", fields={"name": "Name"}),
    ObjectKind("citydata_survey", "Survey", CitydataSurvey, "name", fields={"name": "Name"}),
    ObjectKind("citydata_response", "Survey responses", actions={"import": "Responses imported"}),
)
