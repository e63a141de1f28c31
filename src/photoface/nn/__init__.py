"""photoface.nn"""
