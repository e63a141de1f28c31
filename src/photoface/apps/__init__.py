"""photoface.apps"""
