"""`/dashboard`: the programme in pages, for browsers (`konkurs_readside.dashboard`); found
by the readside's route discovery through this module."""

from konkurs_readside.dashboard.routes import router

__all__ = ["router"]
