"""scalinglab.theory"""
