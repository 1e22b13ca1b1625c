print("expctl")
