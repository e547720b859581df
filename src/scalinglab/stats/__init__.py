"""scalinglab.stats"""
