"""photoface.data"""
