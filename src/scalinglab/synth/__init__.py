"""scalinglab.synth"""
