"""The request classifier: corpus, training, evaluation and the model interface the daemon calls."""
