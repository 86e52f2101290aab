"""Answer: the sentence of the shown passages that answers the question, and the cues that score it."""
