"""Serve: the faces of qa, the command line and the chat page, and what they need (rendering, uploads,
feedback, the workspace that holds the live index). Nothing below imports from here.
"""
