print("meltano-state")
