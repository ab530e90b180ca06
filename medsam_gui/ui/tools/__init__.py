"""Canvas tools: mouse events in image pixel coordinates -> prompts or label edits."""
