"""Generated protobuf and gRPC modules, built from protos/ by setup.py (never edited, never committed).

Every generated module registers in `pool.POOL`, see pool.py.
"""
