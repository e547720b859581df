"""scalinglab.report"""
