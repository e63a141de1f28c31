"""photoface.train"""
