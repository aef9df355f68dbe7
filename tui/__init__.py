"""shipdeck: a terminal console for production deploys of pm2 / Docker Compose Node apps."""

__version__ = "0.1.0"
