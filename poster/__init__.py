"""poster: turn content feeds into posts on a Viber channel."""

__version__ = "0.1.0"
