"""The seed workload files (TOML) shipped with the package; see loadgen/workload_file.py."""
