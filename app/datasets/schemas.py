"""The datasets API's request form and response bodies (OpenAPI components).

``Deleted`` keeps the component name it was published under
(``datasets_controller_Deleted``, from the module it used to live in): generated clients name
their types after it, and the conversations domain has a struct of the same name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec
from litestar.datastructures import UploadFile
from litestar.params import KwargDefinition

__all__ = ["DatasetList", "DatasetUpload", "DatasetView", "Deleted", "DeletedResponse"]


@dataclass
class DatasetUpload:
    """The multipart form: ``file`` (CSV, or ``.json``) and an optional display ``name``."""

    file: UploadFile
    name: str | None = None


class DatasetView(msgspec.Struct, kw_only=True):
    dataset_id: str
    name: str
    kind: str
    rows: int
    columns: list[str]
    warnings: list[str]
    size_bytes: int
    created_at: datetime


class DatasetList(msgspec.Struct, kw_only=True):
    datasets: list[DatasetView]


class Deleted(msgspec.Struct, kw_only=True):
    message: str


DeletedResponse = Annotated[
    Deleted, KwargDefinition(schema_component_key="datasets_controller_Deleted")
]
"""The return annotation of ``DELETE /datasets/{id}``: its published component name."""
