"""photoface.mesh"""
