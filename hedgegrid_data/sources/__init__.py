"""Where raw data comes from: a folder per source (how its bytes are fetched, verified and parsed), and what every
source shares: the hardened HTTP client, provenance, compressed-file limits and text-column parsing."""
