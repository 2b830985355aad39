"""The import object's two descriptions agree: the TypedDict the doors are type-checked against
(schemas/import_object.py) and the REST API's response model that validates it on the wire."""

from typing import get_type_hints

from pydantic import BaseModel

from roster.api.routers import imports as routes
from schemas import import_object


def _same_fields(typed: type, model: type[BaseModel]) -> None:
    assert list(get_type_hints(typed)) == list(model.model_fields), typed.__name__


def test_the_import_object_and_the_api_model_name_the_same_fields():
    _same_fields(import_object.ContactImportObject, routes.ContactImport)
    _same_fields(import_object.ImportCounts, routes.ImportCounts)
    _same_fields(import_object.ImportProgress, routes.ImportProgress)
    _same_fields(import_object.ConsentKept, routes.ConsentKept)
