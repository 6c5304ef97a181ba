"""Developer tools: the mocks runner, the offline render, real-tool checks, benchmarks."""
