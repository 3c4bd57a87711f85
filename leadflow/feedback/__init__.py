"""Closing the loop: CRM outcomes back onto handoffs, the lifecycle, and the model's labels."""

from leadflow.feedback.apply import apply_outcomes
from leadflow.feedback.training import training_examples

__all__ = ["apply_outcomes", "training_examples"]
