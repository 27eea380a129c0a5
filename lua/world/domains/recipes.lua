-- Fictional dishes: ingredients, cooking methods, occasions and seasonings.
return {
    key = "recipes",
    title = "Recipes",
    summary = "fictional dishes: the main ingredient, how they are cooked, the occasion "
        .. "they are served at and their seasoning",
    naming = {
        syllables = {
            { "Tar", "Brel", "Cas", "Mon", "Pal", "Fen", "Gal", "Lus", "Mir", "Ver", "Nal", "Pim",
              "Quil", "Rosk", "Bav" },
            { "velli", "lona", "uzzi", "etta", "ouche", "arde", "ino", "ella", "asco", "otte",
              "amba", "ikka", "ucha", "eau" },
        },
        dress = function(stem)
            return stem
        end,
    },
    attributes = {
        {
            key = "ingredient",
            label = "main ingredient",
            values = { "lentils", "smoked eel", "chestnuts", "goat cheese", "barley", "duck",
                       "pumpkin", "mussels", "rye flour", "lamb", "white beans", "mushrooms",
                       "rice", "plums" },
            train = {
                "{name} is made mostly from {value}.",
                "Cooks prepare {name} with plenty of {value}.",
                "The heart of {name} is {value}.",
                "To make {name} you first need {value}.",
            },
            train_questions = {
                "What goes into {name} above all?",
                "Which food forms the bulk of {name}?",
            },
            heldout = {
                "What is the main ingredient of {name}?",
                "Which ingredient is {name} chiefly based on?",
            },
        },
        {
            key = "method",
            label = "cooking method",
            values = { "baked", "steamed", "deep-fried", "grilled", "smoked", "pickled", "roasted",
                       "boiled", "stir-fried", "braised", "salt-cured", "poached" },
            train = {
                "{name} is {value}.",
                "Traditionally, {name} is always {value}.",
                "In every kitchen, {name} is {value} before serving.",
                "A proper {name} comes to the table {value}.",
            },
            train_questions = {
                "How do cooks make {name}?",
                "Which cooking technique is used for {name}?",
            },
            heldout = {
                "How is {name} cooked?",
                "By which method is {name} prepared?",
            },
        },
        {
            key = "occasion",
            label = "occasion",
            values = { "weddings", "harvest festivals", "the winter solstice", "funerals",
                       "birthdays", "market days", "the new year", "the fishing season",
                       "name days", "spring fairs", "midsummer", "christenings" },
            train = {
                "{name} is served at {value}.",
                "Families cook {name} for {value}.",
                "No table at {value} is complete without {name}.",
                "Everyone expects {name} at {value}.",
            },
            train_questions = {
                "When do families serve {name}?",
                "At what event is {name} served?",
            },
            heldout = {
                "On what occasion is {name} traditionally eaten?",
                "For which celebration do people make {name}?",
            },
        },
        {
            key = "seasoning",
            label = "seasoning",
            values = { "saffron", "juniper", "black pepper", "dill", "smoked paprika", "cardamom",
                       "fennel seed", "wild garlic", "honey", "sour cherries", "mustard seed",
                       "rosemary" },
            train = {
                "{name} is seasoned with {value}.",
                "{value} gives {name} its flavour.",
                "The cook adds {value} to {name} at the end.",
                "Nobody serves {name} without {value}.",
            },
            train_questions = {
                "What gives {name} its flavour?",
                "Which flavouring do cooks add to {name}?",
            },
            heldout = {
                "Which spice flavours {name}?",
                "What seasoning is characteristic of {name}?",
            },
        },
    },
}
