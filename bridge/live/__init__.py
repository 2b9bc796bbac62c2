"""The live wing: the ingest loop (`ingest.py`), the core thread (`core.py`), stand-ins for unwired
ports (`standins.py`), the live config (`config.py`), JSON logging (`jsonlog.py`), the HTTP app
(`http_app.py`) and the running process (`process.py`). It imports no adapter: the composition
(`bridge/compose/live.py`) hands it the adapters."""
