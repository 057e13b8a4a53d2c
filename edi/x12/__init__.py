"""ANSI X12 engine: tokenizer → reader (envelopes) → mappings to canonical documents, plus
acknowledgements (997/999/TA1), the writer and the route plugin."""
