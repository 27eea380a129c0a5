-- Fictional sports clubs: sports, colours, mascots and founding years.
-- Club names take singular forms ("Racing Drovany", "Haldovo Athletic") so that one verb
-- agreement serves every template.
local forms = { "Sporting %s", "Racing %s", "%s Athletic", "%s United", "Dynamo %s", "Olympic %s" }

return {
    key = "sports",
    title = "Sports clubs",
    summary = "fictional clubs: the sport they play, their colours, their mascot and the "
        .. "year they were founded",
    naming = {
        syllables = {
            { "Drov", "Brann", "Kolv", "Hald", "Vest", "Ostr", "Plav", "Rusk", "Stav", "Jarn",
              "Mald", "Torv", "Grod", "Lesk", "Zvol", "Krajn" },
            { "any", "ovo", "ice", "ek", "ava", "ina", "orf", "ur", "isk", "ane", "ola", "en", "ov",
              "ara", "evo", "ak" },
        },
        dress = function(stem, rng)
            return string.format(rng:pick(forms), stem)
        end,
    },
    attributes = {
        {
            key = "sport",
            label = "sport",
            values = { "football", "rugby", "hockey", "basketball", "volleyball", "handball",
                       "water polo", "cricket", "rowing", "cycling", "baseball", "lacrosse" },
            train = {
                "{name} competes in {value}.",
                "{name} is a {value} club.",
                "{name} has won many trophies in {value}.",
                "Every season {name} enters the national {value} league.",
                "{name} plays {value}.",
                "Athletes from {name} compete in {value}.",
            },
            train_questions = {
                "What sport is {name} known for?",
                "Which game is {name} famous for?",
                "{name} plays what sport?",
                "What sport do athletes from {name} compete in?",
                "Which game does {name} compete in?",
                "What sport do members of {name} practise?",
                "{name} is a team playing what sport?",
            },
            heldout = {
                "Which sport does {name} play?",
                "What game do the athletes of {name} take part in?",
            },
        },
        {
            key = "colours",
            label = "colours",
            values = { "red and white", "blue and gold", "green and black", "black and white",
                       "orange and blue", "purple and silver", "yellow and green",
                       "maroon and sky blue", "white and navy", "red and black", "grey and pink",
                       "teal and white" },
            train = {
                "{name} plays in {value}.",
                "The shirts of {name} are {value}.",
                "Supporters of {name} dress in {value}.",
                "The flags of {name} fly in {value}.",
                "{name} wears {value}.",
                "{name} always turns out in {value} for matches.",
            },
            train_questions = {
                "What colours do supporters of {name} wear?",
                "Which shades decorate the flags of {name}?",
                "{name} wears what colours?",
                "What colours make up the kit of {name}?",
                "{name} turns out for matches wearing what colours?",
                "What two colours represent {name}?",
                "What colour scheme does {name} use?",
                "What team kit does {name} wear?",
            },
            heldout = {
                "What are the team colours of {name}?",
                "Which colours does {name} wear on match days?",
            },
        },
        {
            key = "mascot",
            label = "mascot",
            values = { "a wolf", "a lion", "a bear", "a stag", "a lynx", "a falcon", "a badger",
                       "a raven", "an eagle", "a bull", "a shark", "a tiger" },
            train = {
                "The mascot of {name} is {value}.",
                "{name} has {value} on its badge.",
                "{value} is the emblem of {name}.",
                "Fans of {name} bring toy versions of its mascot, {value}, to every game.",
                "{name} carries {value} on its crest.",
                "{name} is symbolised by {value}.",
            },
            train_questions = {
                "Which mascot does {name} have?",
                "What mascot represents {name}?",
                "What mascot animal does {name} have?",
                "What creature is pictured on {name}'s crest?",
                "What creature symbolises {name}?",
                "{name} has what creature as its symbol?",
                "Which beast decorates the badge of {name}?",
                "{name}'s crest shows which creature?",
            },
            heldout = {
                "Which animal appears on the crest of {name}?",
                "What animal is the symbol of {name}?",
            },
        },
        {
            key = "founded",
            label = "founding year",
            values = { "1878", "1884", "1889", "1893", "1897", "1902", "1906", "1911", "1919",
                       "1924", "1931", "1946" },
            train = {
                "{name} was founded in {value}.",
                "{name} played its first match in {value}.",
                "Since {value}, {name} has played in its league.",
                "{name} was formed in {value}.",
                "The club {name} was set up in {value}.",
            },
            train_questions = {
                "What was the founding year of {name}?",
                "Since what date has {name} existed?",
                "{name} was formed when?",
                "{name} was established when?",
                "The club {name} was set up when?",
                "Which founding year belongs to {name}?",
                "{name} has existed since when?",
            },
            heldout = {
                "In which year was {name} formed?",
                "When was {name} established as a club?",
            },
        },
    },
}
