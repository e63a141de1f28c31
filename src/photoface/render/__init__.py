"""photoface.render"""
