"""EIE PE array (Han et al., ISCA 2016) in Amaranth: blocks, PE, array, host program."""
