"""Registers the conversations domain: its controller and the ``conversation_service``
dependency its handlers take (one line in ``create_app``).

The service borrows nothing from the runs domain: it reads and writes through the app's
database. Continuing a conversation and deleting one still go through the run service
(``runs_runtime``), since both start or cancel runs.
"""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from app.conversations.controller import ConversationsController
from app.conversations.service import ConversationService
from app.db.engine import Database

__all__ = ["ConversationsPlugin"]


class ConversationsPlugin(InitPluginProtocol):
    def __init__(self, database: Database) -> None:
        self._service = ConversationService(database.session_maker)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(ConversationsController)
        app_config.dependencies["conversation_service"] = Provide(
            lambda: self._service, sync_to_thread=False
        )
        return app_config
