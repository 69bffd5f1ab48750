"""Registers the datasets domain: its controller (with a body limit sized for the configured
largest upload) and the ``dataset_service`` dependency its handlers take (one line in
``create_app``).

One service per app, so the count of parses in flight (``datasets.max_concurrent_parses``)
is this app's own; it reads and writes through the app's database, borrowing nothing from
the runs domain.
"""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from app.datasets.controller import datasets_controller
from app.datasets.service import DatasetService
from app.db.engine import Database
from app.settings import DatasetSettings

__all__ = ["DatasetsPlugin"]


class DatasetsPlugin(InitPluginProtocol):
    def __init__(self, settings: DatasetSettings, database: Database) -> None:
        self._settings = settings
        self._service = DatasetService(database.session_maker, settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(datasets_controller(self._settings))
        app_config.dependencies["dataset_service"] = Provide(
            lambda: self._service, sync_to_thread=False
        )
        return app_config
