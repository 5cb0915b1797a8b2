"""The CDK app: one construct per capability, composed in ``stack.py``."""
