"""Stand-in MongoDB and S3 servers for development and tests (see the design's decisions).

Each runs in its own process and is reached over a socket, exactly as a real server would be.
"""
