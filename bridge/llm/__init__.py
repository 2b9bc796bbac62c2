"""The LLM shopkeeper: an Anthropic Messages API tool loop over the shared tool layer.

Nothing here is imported on the heuristic path; the composition root imports it only for
`--policy llm`. Modules: settings (model, limits, prices), adapter (the LLM port on the real
`anthropic` SDK), context (token budget, trimming, prompt caching), memory (scratchpad,
key-value, searchable notes in the store), watchdog (coherence counts), costs, transcript,
prompt, policy (the loop), wiring (what `build_sim` calls).
"""
