"""photoface.facemodel"""
