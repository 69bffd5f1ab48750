"""The images domain's one line in ``create_app``: the route and its :class:`ImageService`."""

from __future__ import annotations

from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.plugins import InitPluginProtocol

from app.images.controller import ImagesController, ImageService
from app.settings import Settings

__all__ = ["ImagesPlugin"]


class ImagesPlugin(InitPluginProtocol):
    """``ImagesPlugin(settings)``: grid plots are cached as long as the grid data is
    (``tools.cache_ttl_s``)."""

    def __init__(self, settings: Settings) -> None:
        self.service = ImageService(plot_ttl_s=settings.tools.cache_ttl_s)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(ImagesController)
        app_config.dependencies["image_service"] = Provide(
            lambda: self.service, sync_to_thread=False
        )
        return app_config
