"""jobservice"""
