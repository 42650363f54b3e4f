"""What every feed shares: the feed itself (source × venue × market × table), the one day recipe, the registry of
declared publishers, and the streaming and day steps any trade source can use."""
