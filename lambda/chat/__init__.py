"""Serverless group chat: the code that ships to AWS Lambda.

Handlers live in ``chat.handlers``; everything else is plain Python that takes and returns
plain values (no event dicts), so it can be tested without API Gateway or Lambda.
"""
