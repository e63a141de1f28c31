"""photoface.evaluate"""
